package dev.retain.bench;

import dev.retain.adapter.AdapterArchive;
import dev.retain.adapter.AdapterVersion;
import dev.retain.config.RetainConfig;
import dev.retain.eval.AccuracyMatrix;
import dev.retain.model.SafeTensors;
import dev.retain.record.Example;
import dev.retain.serve.ServingModel;
import dev.retain.train.Candidate;
import dev.retain.train.CandidateHandler;
import dev.retain.train.Trigger;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bench's candidate handler: scores each candidate that ends a domain (and the last one) on the
 * test images of every domain, through the plain-Java merged model serving uses. Training continues
 * from every candidate, as no gate stands between them.
 */
final class CandidateScorer implements CandidateHandler {
  private final AdapterArchive.LoraSpec lora;
  private final List<List<Example>> test;
  private final AccuracyMatrix matrix = new AccuracyMatrix();
  private Map<String, SafeTensors.Tensor> base;
  private Map<String, Double> last;
  private String lastDomain;

  CandidateScorer(RetainConfig config, List<List<Example>> test) {
    this.lora =
        new AdapterArchive.LoraSpec(
            config.getInt(RetainConfig.LORA_RANK),
            config.getDouble(RetainConfig.LORA_ALPHA),
            config.getBoolean(RetainConfig.LORA_RSLORA));
    this.test = test;
  }

  @Override
  public void base(String hash, byte[] safetensors) {
    base = SafeTensors.read(safetensors).tensors();
  }

  /** The candidate's test accuracy per domain, through the model serving would merge. */
  private Map<String, Double> scores(Candidate candidate) {
    AdapterVersion version =
        new AdapterVersion(
            "bench", candidate.model(), "", candidate.baseHash(), Map.of(), Map.of(), 0, 0);
    ServingModel model =
        ServingModel.merge(base, AdapterArchive.of(version, lora, candidate.adapter(), Map.of()));
    Map<String, Double> scores = new LinkedHashMap<>();
    for (int d = 0; d < test.size(); d++) {
      scores.put("domain-" + d, Service.accuracy(model, test.get(d)));
    }
    return scores;
  }

  @Override
  public Map<String, SafeTensors.Tensor> offer(Candidate candidate) {
    if (candidate.trigger() == Trigger.EVERY) {
      return null; // only a domain's end and the stream's end are scored
    }
    Map<String, Double> scores = scores(candidate);
    if (candidate.trigger() == Trigger.DOMAIN) {
      matrix.record(candidate.learnedDomain(), scores);
    } else {
      last = scores; // the stream's end: the last idle consolidation
      lastDomain = candidate.learnedDomain();
    }
    return null;
  }

  /** A domain's end per row, then the stream's end. */
  AccuracyMatrix matrix() {
    AccuracyMatrix out = new AccuracyMatrix();
    List<Map<String, Double>> rows = matrix.rows();
    List<String> learned = matrix.learned();
    for (int i = 0; i < rows.size(); i++) {
      out.record(learned.get(i), rows.get(i));
    }
    if (last != null) {
      out.record(lastDomain, last);
    }
    return out;
  }
}
