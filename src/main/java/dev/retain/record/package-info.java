/**
 * The labeled example, its JSON and binary codecs, and its validation rules. Every reason a record
 * can be rejected is a {@link dev.retain.record.RejectReason}.
 */
package dev.retain.record;
