// Compile-only stub of androidx.activity.ComponentActivity from androidx.activity:activity 1.8.0 (via appcompat 1.7.1): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.activity;

public class ComponentActivity extends android.app.Activity implements androidx.lifecycle.LifecycleOwner {
    public ComponentActivity() { throw new RuntimeException("Stub!"); }
    public androidx.lifecycle.Lifecycle getLifecycle() { throw new RuntimeException("Stub!"); }
    public final <I, O> androidx.activity.result.ActivityResultLauncher<I> registerForActivityResult(
            androidx.activity.result.contract.ActivityResultContract<I, O> contract,
            androidx.activity.result.ActivityResultCallback<O> callback) { throw new RuntimeException("Stub!"); }
}
