/**
 * Configuration of the {@code courier} command: {@link dev.courier.server.config.CourierConfig}
 * merges defaults, a properties file, {@code COURIER_*} environment variables and options, checks
 * every value once and names key and origin in every error. The keys are listed in {@link
 * dev.courier.server.config.Setting} and documented in CONFIGURATION.md.
 */
package dev.courier.server.config;
