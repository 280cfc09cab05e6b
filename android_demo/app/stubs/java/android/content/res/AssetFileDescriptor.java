// Compile-only stub of android.content.res.AssetFileDescriptor from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.content.res;

public class AssetFileDescriptor implements java.io.Closeable {
    AssetFileDescriptor() { throw new RuntimeException("Stub!"); }
    public java.io.FileDescriptor getFileDescriptor() { throw new RuntimeException("Stub!"); }
    public long getStartOffset() { throw new RuntimeException("Stub!"); }
    public long getDeclaredLength() { throw new RuntimeException("Stub!"); }
    public void close() throws java.io.IOException { throw new RuntimeException("Stub!"); }
}
