// Compile-only stub of org.tensorflow.lite.gpu.CompatibilityList from com.google.ai.edge.litert:litert-gpu 1.4.2 (package org.tensorflow.lite.gpu): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite.gpu;

public class CompatibilityList implements java.io.Closeable {
    public CompatibilityList() { throw new RuntimeException("Stub!"); }
    public boolean isDelegateSupportedOnThisDevice() { throw new RuntimeException("Stub!"); }
    public GpuDelegate.Options getBestOptionsForThisDevice() { throw new RuntimeException("Stub!"); }
    public void close() { throw new RuntimeException("Stub!"); }
}
