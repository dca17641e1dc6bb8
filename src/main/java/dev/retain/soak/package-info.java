/**
 * {@code retain soak}: the service under faults on a real broker (SIGKILLed learners, a broker
 * restart, a second learner started by mistake), then an account of every record and every
 * published version.
 */
package dev.retain.soak;
