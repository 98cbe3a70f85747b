package dev.courier.kafka;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.metrics.KafkaMetric;

/**
 * A real Kafka producer with one step of its flow replaceable, for failures that cannot be caused
 * from outside at a precise moment (a newer producer fencing this one between its sends and its
 * commit; a commit whose response is lost). Everything else goes to the real producer and the real
 * broker.
 */
class ForwardingProducer implements Producer<byte[], byte[]> {
  /** What to do instead of a plain {@code commitTransaction()}. */
  @FunctionalInterface
  interface Commit {
    void commit(Producer<byte[], byte[]> real);
  }

  private final Producer<byte[], byte[]> real;
  private final Commit commit;

  ForwardingProducer(Producer<byte[], byte[]> real, Commit commit) {
    this.real = real;
    this.commit = commit;
  }

  @Override
  public void commitTransaction() {
    commit.commit(real);
  }

  @Override
  public void initTransactions() {
    real.initTransactions();
  }

  @Override
  public void beginTransaction() {
    real.beginTransaction();
  }

  @Override
  public void sendOffsetsToTransaction(
      Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata groupMetadata) {
    real.sendOffsetsToTransaction(offsets, groupMetadata);
  }

  @Override
  public void abortTransaction() {
    real.abortTransaction();
  }

  @Override
  public void registerMetricForSubscription(KafkaMetric metric) {
    real.registerMetricForSubscription(metric);
  }

  @Override
  public void unregisterMetricFromSubscription(KafkaMetric metric) {
    real.unregisterMetricFromSubscription(metric);
  }

  @Override
  public Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record) {
    return real.send(record);
  }

  @Override
  public Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record, Callback callback) {
    return real.send(record, callback);
  }

  @Override
  public void flush() {
    real.flush();
  }

  @Override
  public List<PartitionInfo> partitionsFor(String topic) {
    return real.partitionsFor(topic);
  }

  @Override
  public Map<MetricName, ? extends Metric> metrics() {
    return real.metrics();
  }

  @Override
  public Uuid clientInstanceId(Duration timeout) {
    return real.clientInstanceId(timeout);
  }

  @Override
  public void close() {
    real.close();
  }

  @Override
  public void close(Duration timeout) {
    real.close(timeout);
  }
}
