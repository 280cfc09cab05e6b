package ai.arnet.edge.core

import org.junit.runner.Description
import org.junit.runner.JUnitCore
import org.junit.runner.notification.Failure
import org.junit.runner.notification.RunListener
import kotlin.system.exitProcess

/**
 * `run_tests.sh` entry point: runs the given test classes (default: all *Test classes of this
 * package) with JUnitCore and ends with the line `N passed, M failed`.
 */
object TestMain {
    val ALL = listOf<Class<*>>(
        ManifestTest::class.java, GoldenTraceTest::class.java, StreamerTest::class.java,
        TensorTest::class.java, ImageOpsTest::class.java, TelemetryTest::class.java,
    )

    @JvmStatic
    fun main(args: Array<String>) {
        val classes = if (args.isEmpty()) ALL else args.map { Class.forName(if ('.' in it) it else "ai.arnet.edge.core.$it") }
        val core = JUnitCore()
        val quiet = System.getenv("VERBOSE").isNullOrEmpty()
        core.addListener(object : RunListener() {
            private var failed = false
            override fun testStarted(d: Description) { failed = false }
            override fun testFailure(f: Failure) {
                failed = true
                println("FAIL ${f.description.displayName}")
                val msg = f.message ?: f.exception.toString()
                println("     " + msg.lines().take(40).joinToString("\n     "))
                if (f.exception !is AssertionError) {
                    f.exception.stackTrace.take(8).forEach { println("       at $it") }
                }
            }
            override fun testFinished(d: Description) { if (!quiet && !failed) println("ok   ${d.displayName}") }
            override fun testIgnored(d: Description) { println("skip ${d.displayName}") }
        })
        val r = core.run(*classes.toTypedArray())
        val failed = r.failureCount
        val passed = r.runCount - failed
        if (r.ignoreCount > 0) println("(${r.ignoreCount} ignored)")
        println("$passed passed, $failed failed")
        exitProcess(if (failed == 0 && r.runCount > 0) 0 else 1)
    }
}
