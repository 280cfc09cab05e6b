// Compile-only stub of android.content.Context from Android platform API 36 (android.jar): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package android.content;

public abstract class Context {
    public abstract Context getApplicationContext();
    public abstract android.content.res.AssetManager getAssets();
    public final <T> T getSystemService(Class<T> serviceClass) { throw new RuntimeException("Stub!"); }
    public final String getString(int resId, Object... formatArgs) { throw new RuntimeException("Stub!"); }
    public java.util.concurrent.Executor getMainExecutor() { throw new RuntimeException("Stub!"); }
}
