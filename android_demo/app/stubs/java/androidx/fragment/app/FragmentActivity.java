// Compile-only stub of androidx.fragment.app.FragmentActivity from androidx.fragment:fragment 1.5.4 (via appcompat 1.7.1): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.fragment.app;

public class FragmentActivity extends androidx.activity.ComponentActivity { public FragmentActivity() { throw new RuntimeException("Stub!"); } }
