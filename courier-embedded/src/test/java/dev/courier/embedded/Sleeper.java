package dev.courier.embedded;

/** A child-process main that does nothing for a long time, standing in for a broker. */
final class Sleeper {

    private Sleeper() {
    }

    public static void main(String[] args) throws InterruptedException {
        System.out.println("sleeping");
        System.out.flush();
        Thread.sleep(120_000);
    }
}
