/**
 * A fleet instance: many models per process, partitions shared by a consumer group, each
 * partition's state in a store mirrored to the changelog topic so that it moves with the partition.
 */
package dev.retain.fleet;
