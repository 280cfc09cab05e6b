// Compile-only stub of org.tensorflow.lite.gpu.GpuDelegate from com.google.ai.edge.litert:litert-gpu 1.4.2 (package org.tensorflow.lite.gpu): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite.gpu;

public class GpuDelegate implements org.tensorflow.lite.Delegate {
    public static final class Options extends GpuDelegateFactory.Options {
        public Options() { throw new RuntimeException("Stub!"); }
    }
    public GpuDelegate(GpuDelegateFactory.Options options) { throw new RuntimeException("Stub!"); }
    public GpuDelegate() { throw new RuntimeException("Stub!"); }
    public long getNativeHandle() { throw new RuntimeException("Stub!"); }
    public void close() { throw new RuntimeException("Stub!"); }
}
