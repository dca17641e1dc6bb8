package dev.retain.train;

import dev.retain.model.SafeTensors;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * An adapter the learner has just consolidated and evaluated, offered for publication.
 *
 * @param model the model id
 * @param adapter the adapter's tensors under PEFT names
 * @param evaluation accuracy per domain on the holdout sets
 * @param championEvaluation the champion's accuracy on the same holdouts, measured at the same time
 *     (the base alone, a zero adapter, when there is no champion yet)
 * @param baseHash SHA-256 of the frozen base
 * @param positions next offset per partition: everything below was trained on
 * @param steps training steps taken so far
 * @param learnedDomain the domain learned most recently
 * @param trigger what caused the consolidation
 * @param holdoutSizes examples in each evaluated domain's holdout (the gate's sampling noise)
 * @param baseline per domain, the accuracy of always answering the holdout's most frequent class
 */
public record Candidate(
    String model,
    Map<String, SafeTensors.Tensor> adapter,
    Map<String, Double> evaluation,
    Map<String, Double> championEvaluation,
    String baseHash,
    Map<TopicPartition, Long> positions,
    long steps,
    String learnedDomain,
    Trigger trigger,
    Map<String, Integer> holdoutSizes,
    Map<String, Double> baseline) {}
