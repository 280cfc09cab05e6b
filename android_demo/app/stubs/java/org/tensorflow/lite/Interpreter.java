// Compile-only stub of org.tensorflow.lite.Interpreter from com.google.ai.edge.litert:litert 1.4.2 (package org.tensorflow.lite): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package org.tensorflow.lite;

public final class Interpreter implements AutoCloseable {
    public static class Options {
        public Options() { throw new RuntimeException("Stub!"); }
        public Options setNumThreads(int numThreads) { throw new RuntimeException("Stub!"); }
        public Options setUseXNNPACK(boolean useXNNPACK) { throw new RuntimeException("Stub!"); }
        public Options addDelegate(Delegate delegate) { throw new RuntimeException("Stub!"); }
    }
    public Interpreter(java.nio.ByteBuffer byteBuffer, Options options) { throw new RuntimeException("Stub!"); }
    public void runForMultipleInputsOutputs(Object[] inputs, java.util.Map<Integer, Object> outputs) { throw new RuntimeException("Stub!"); }
    public void runSignature(java.util.Map<String, Object> inputs, java.util.Map<String, Object> outputs, String signatureKey) { throw new RuntimeException("Stub!"); }
    public void allocateTensors() { throw new RuntimeException("Stub!"); }
    public String[] getSignatureKeys() { throw new RuntimeException("Stub!"); }
    public String[] getSignatureInputs(String signatureKey) { throw new RuntimeException("Stub!"); }
    public String[] getSignatureOutputs(String signatureKey) { throw new RuntimeException("Stub!"); }
    public Tensor getInputTensorFromSignature(String inputName, String signatureKey) { throw new RuntimeException("Stub!"); }
    public Tensor getOutputTensorFromSignature(String outputName, String signatureKey) { throw new RuntimeException("Stub!"); }
    public int getInputTensorCount() { throw new RuntimeException("Stub!"); }
    public Tensor getInputTensor(int inputIndex) { throw new RuntimeException("Stub!"); }
    public int getOutputTensorCount() { throw new RuntimeException("Stub!"); }
    public Tensor getOutputTensor(int outputIndex) { throw new RuntimeException("Stub!"); }
    public void close() { throw new RuntimeException("Stub!"); }
}
