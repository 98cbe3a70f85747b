/**
 * What adapters implement: {@link dev.courier.spi.Transport} publishes with broker confirmation.
 * Consumers are transport-specific and built on {@link dev.courier.inbox.IdempotentProcessor}.
 */
package dev.courier.spi;
