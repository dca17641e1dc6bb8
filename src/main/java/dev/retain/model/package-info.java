/**
 * Model architectures: the MLP base with LoRA adapters on every Linear layer ({@link
 * dev.retain.model.LoraNet}). The base is frozen after pretraining; only adapter parameters train.
 */
package dev.retain.model;
