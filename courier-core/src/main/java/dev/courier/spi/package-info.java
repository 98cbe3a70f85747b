/**
 * What adapters implement: {@link dev.courier.spi.Transport} publishes with broker confirmation.
 * Consumers are transport-specific and built on {@link dev.courier.inbox.IdempotentProcessor}; each
 * decodes what it receives with {@link dev.courier.spi.ReceivedMessage}, which gives the same
 * {@link dev.courier.spi.Decoded} outcome on every broker.
 */
package dev.courier.spi;
