/**
 * What adapters implement: {@link dev.courier.spi.Transport} publishes with broker confirmation.
 * A transport writes an event's headers with {@link dev.courier.spi.EventHeaders} (one set of names
 * and one order on every broker) and carries out a publish through {@link
 * dev.courier.spi.PublishBatch}, supplying only what is its broker's own. Consumers are
 * transport-specific and built on {@link dev.courier.inbox.IdempotentProcessor}; each decodes what
 * it receives with {@link dev.courier.spi.ReceivedMessage}, which gives the same {@link
 * dev.courier.spi.Decoded} outcome on every broker.
 */
package dev.courier.spi;
