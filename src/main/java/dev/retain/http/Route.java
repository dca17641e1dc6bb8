package dev.retain.http;

/** Answers the calls under one path. */
@FunctionalInterface
public interface Route {
  void handle(Call call) throws Exception;
}
