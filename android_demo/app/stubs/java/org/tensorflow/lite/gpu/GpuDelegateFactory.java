// Compile-only stub of org.tensorflow.lite.gpu.GpuDelegateFactory from com.google.ai.edge.litert:litert-gpu 1.4.2 (package org.tensorflow.lite.gpu): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite.gpu;

public class GpuDelegateFactory {
    public static class Options {
        public Options() { throw new RuntimeException("Stub!"); }
        public Options setPrecisionLossAllowed(boolean precisionLossAllowed) { throw new RuntimeException("Stub!"); }
        public Options setQuantizedModelsAllowed(boolean quantizedModelsAllowed) { throw new RuntimeException("Stub!"); }
    }
}
