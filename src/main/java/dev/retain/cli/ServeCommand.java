package dev.retain.cli;

import dev.retain.cluster.Topics;
import dev.retain.config.RetainConfig;
import dev.retain.metrics.Metrics;
import dev.retain.serve.ServeNode;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** Runs the serving endpoint until stopped. */
@Command(
    name = "serve",
    description =
        "Serve predictions over HTTP with the newest promoted adapter, hot-swapping each new"
            + " version.")
final class ServeCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Override
  public Integer call() throws Exception {
    RetainConfig config = options.load(java.util.Map.of());
    Topics.ensureAtStart(config);
    ServeNode node = new ServeNode(config, Metrics.registry("retain-serve")).start();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  node.close();
                  stopped.countDown();
                },
                "retain-shutdown"));
    System.err.printf(
        "serving model %s on http://%s:%d/v1/models/%s (metrics at /metrics)%n",
        config.getString(RetainConfig.MODEL_ID),
        config.getString(RetainConfig.SERVE_HOST),
        node.port(),
        config.getString(RetainConfig.MODEL_ID));
    // supervision: a worker that stops by itself ends the process with a non-zero exit
    while (!stopped.await(200, java.util.concurrent.TimeUnit.MILLISECONDS)) {
      String failed = node.stoppedWorker();
      if (failed != null) {
        System.err.println(failed + " (its ERROR above says why); exiting");
        node.close();
        return 1;
      }
    }
    return 0;
  }
}
