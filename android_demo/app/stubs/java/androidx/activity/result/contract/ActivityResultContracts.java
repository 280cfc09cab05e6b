// Compile-only stub of androidx.activity.result.contract.ActivityResultContracts from androidx.activity:activity 1.8.0 (via appcompat 1.7.1): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.activity.result.contract;

public final class ActivityResultContracts {
    public static final class RequestPermission extends ActivityResultContract<String, Boolean> {
        public RequestPermission() { throw new RuntimeException("Stub!"); }
    }
}
