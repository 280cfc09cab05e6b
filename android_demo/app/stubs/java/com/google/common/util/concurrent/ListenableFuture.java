// Compile-only stub of com.google.common.util.concurrent.ListenableFuture from com.google.guava:listenablefuture 1.0 (via CameraX 1.5.3): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package com.google.common.util.concurrent;

public interface ListenableFuture<V> extends java.util.concurrent.Future<V> {
    void addListener(Runnable listener, java.util.concurrent.Executor executor);
}
