/**
 * The inference endpoint: follows the adapters and bases topics, merges each promoted adapter into
 * its base, swaps the result in atomically and answers prediction requests over HTTP.
 */
package dev.retain.serve;
