/**
 * Data sources for demos, benchmarks and tests: the generated drift stream and Fashion-MNIST read
 * from Debian's dataset-fashion-mnist package.
 */
package dev.retain.data;
