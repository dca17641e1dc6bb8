/**
 * An adapter version as it leaves the learner: its identity and evaluation ({@link
 * dev.retain.adapter.AdapterVersion}), its files in the layout PEFT reads ({@link
 * dev.retain.adapter.AdapterArchive}), and its record on the adapters topic ({@link
 * dev.retain.adapter.AdapterRecord}). The publisher writes these formats, serving and {@code retain
 * export} read them; this package is their one owner.
 */
package dev.retain.adapter;
