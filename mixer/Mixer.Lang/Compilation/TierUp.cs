using System.Collections.Concurrent;

namespace Mixer.Lang.Compilation;

/// <summary>
/// Compiles tiered expressions to IL on one background thread of below-normal priority, in the
/// order they were made, so a new config is served at once (interpreted) while its code is
/// compiled behind it, off the request path and off the config-loading path.
/// </summary>
internal static class TierUp
{
    private static readonly BlockingCollection<CompiledExpression> s_queue = new(new ConcurrentQueue<CompiledExpression>());
    private static readonly Lazy<Thread> s_worker = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);

    public static void Enqueue(CompiledExpression expression)
    {
        _ = s_worker.Value;
        s_queue.Add(expression);
    }

    private static Thread Start()
    {
        var t = new Thread(Run) { IsBackground = true, Priority = ThreadPriority.BelowNormal, Name = "CEXL tier-up" };
        t.Start();
        return t;
    }

    private static void Run()
    {
        foreach (var expression in s_queue.GetConsumingEnumerable())
        {
            try
            {
                expression.CompileNow();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The interpreted code keeps serving; an expression that cannot be compiled is a bug
                // in the emitter, which the tests (run in every mode) would show.
                System.Diagnostics.Trace.TraceError($"CEXL: compiling '{expression.Text}' failed: {e.Message}");
            }
        }
    }
}
