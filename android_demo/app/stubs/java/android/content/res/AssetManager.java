// Compile-only stub of android.content.res.AssetManager from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.content.res;

public final class AssetManager implements AutoCloseable {
    AssetManager() { throw new RuntimeException("Stub!"); }
    public java.io.InputStream open(String fileName) throws java.io.IOException { throw new RuntimeException("Stub!"); }
    public AssetFileDescriptor openFd(String fileName) throws java.io.IOException { throw new RuntimeException("Stub!"); }
    public void close() { throw new RuntimeException("Stub!"); }
}
