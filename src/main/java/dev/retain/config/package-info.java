/**
 * Retain's one typed configuration ({@link dev.retain.config.RetainConfig}) and how it is loaded
 * from a file, the environment and the command line ({@link dev.retain.config.ConfigLoader}).
 */
package dev.retain.config;
