// Compile-only stub of androidx.lifecycle.Lifecycle from androidx.lifecycle:lifecycle-common 2.6.1 (via appcompat 1.7.1): the members the app calls, with the
// real signatures; bodies throw. Never packaged in an app (see tools/compile_app.sh).
package androidx.lifecycle;

public abstract class Lifecycle { public Lifecycle() { throw new RuntimeException("Stub!"); } }
