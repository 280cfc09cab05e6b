// Compile-only stub of org.tensorflow.lite.Tensor from com.google.ai.edge.litert:litert 1.4.2 (package org.tensorflow.lite): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite;

public interface Tensor {
    class QuantizationParams {
        public QuantizationParams(float scale, int zeroPoint) { throw new RuntimeException("Stub!"); }
        public float getScale() { throw new RuntimeException("Stub!"); }
        public int getZeroPoint() { throw new RuntimeException("Stub!"); }
    }
    DataType dataType();
    int numDimensions();
    int numBytes();
    int numElements();
    int[] shape();
    String name();
    QuantizationParams quantizationParams();
}
