/** JSON-lines logging for the command line, and routing the log to a file during the demo. */
package dev.courier.server.logging;
