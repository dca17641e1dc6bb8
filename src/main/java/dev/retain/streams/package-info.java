/**
 * Kafka Streams topologies: the join of delayed labels ({@code retain.feedback}) with served
 * predictions ({@code retain.predictions}) into online accuracy per adapter version.
 */
package dev.retain.streams;
