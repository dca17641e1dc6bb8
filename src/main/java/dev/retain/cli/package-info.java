/** The {@code retain} command line and its subcommands. */
package dev.retain.cli;
