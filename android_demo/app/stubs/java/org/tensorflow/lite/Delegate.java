// Compile-only stub of org.tensorflow.lite.Delegate from com.google.ai.edge.litert:litert 1.4.2 (package org.tensorflow.lite): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite;

public interface Delegate extends java.io.Closeable { long getNativeHandle(); default void close() {} }
