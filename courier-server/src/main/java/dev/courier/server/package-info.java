/**
 * The {@code courier} command line ({@link dev.courier.server.CourierCli}): {@code migrate}, {@code
 * relay}, {@code demo} and {@code config}. An application, not a library: the public types here are
 * public so that the subpackages can share them.
 */
package dev.courier.server;
