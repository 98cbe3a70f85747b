/**
 * What the CLI's admin verbs and the HTTP admin API share: JSON shapes, time arguments, and how
 * a failure maps to an exit code and an HTTP status.
 */
package dev.courier.server.admin;
