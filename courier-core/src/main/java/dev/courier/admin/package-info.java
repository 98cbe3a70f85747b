/**
 * What operators use to look after Courier without writing SQL: the request and result types
 * shared by the outbox and dead-letter admins, the audit trail every mutation writes, and
 * retention of the ledger, the outbox and its archive.
 *
 * <p>Every mutating operation takes an {@link dev.courier.admin.Attribution} (who and why) and
 * writes one {@link dev.courier.admin.AuditLog} row in the same transaction as its change, so a
 * change without its audit row cannot commit.
 */
package dev.courier.admin;
