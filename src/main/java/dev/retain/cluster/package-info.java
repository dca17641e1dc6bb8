/**
 * Kafka plumbing shared by every stage: client factories configured from Retain's configuration,
 * topic creation, and the embedded single-node KRaft broker.
 */
package dev.retain.cluster;
