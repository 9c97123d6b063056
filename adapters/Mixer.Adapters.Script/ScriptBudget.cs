using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Mixer.Adapters.Script;

/// <summary>
/// The per-call budget of a script: time, and stack. .NET cannot abort a thread, so the compiler
/// inserts a call to <see cref="Tick"/> at the top of every loop body and before every <c>goto</c>,
/// and a call to <see cref="Enter"/> at the entry of every method, local function, lambda and
/// anonymous method. Once the call's deadline has passed (or the caller's cancellation token fires,
/// or the script has used too much stack), the call is stopped: each of them throws, every catch
/// clause gets the filter <c>when (ScriptBudget.Live)</c> so no catch block sees the stop, and every
/// finally block runs only while <see cref="Live"/>, so no script code runs while it unwinds.
/// </summary>
/// <remarks>Not for scripts to call; the compiler inserts the calls. The budget is per thread: scripts are synchronous.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ScriptBudget
{
    // Loop bodies can be a few nanoseconds long: read the clock every this many ticks.
    private const int TicksPerClockRead = 64;

    /// <summary>
    /// How much stack a script may use below where its call began: far below a thread's stack
    /// (1.5 MiB for .NET threads), so a deep recursion stops with room left to unwind it.
    /// </summary>
    public const long MaxStackBytes = 256 * 1024;

    [ThreadStatic]
    private static nuint t_stackBase;

    [ThreadStatic]
    private static long t_deadline;

    [ThreadStatic]
    private static int t_countdown;

    [ThreadStatic]
    private static StopReason t_stopped;

    [ThreadStatic]
    private static CancellationToken t_token;

    /// <summary>False once the call is stopped: catch filters and finally blocks of the script test it.</summary>
    public static bool Live => t_stopped == StopReason.None;

    /// <summary>Counts a loop iteration or a jump; throws once the call is stopped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tick()
    {
        if (--t_countdown <= 0)
        {
            ReadClock();
        }
    }

    /// <summary>Counts a method entry; throws once the call is stopped or the script has used too much stack (a runaway recursion).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Enter()
    {
        if (--t_countdown <= 0)
        {
            ReadClock();
        }

        // Stacks grow down on every platform .NET runs on.
        byte here;
        if ((long)(t_stackBase - (nuint)(&here)) > MaxStackBytes)
        {
            Stop(StopReason.Stack);
        }
    }

    /// <summary>Starts a call's budget on this thread; returns what to hand <see cref="End"/>.</summary>
    internal static unsafe Scope Begin(TimeSpan timeout, CancellationToken token)
    {
        byte here;
        var saved = new Scope(t_deadline, t_countdown, t_stopped, t_stackBase, t_token);
        t_stackBase = (nuint)(&here);
        t_deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        t_countdown = TicksPerClockRead;
        t_stopped = StopReason.None;
        t_token = token;
        return saved;
    }

    /// <summary>Ends a call's budget, restoring what was there before (nothing, normally).</summary>
    internal static void End(in Scope saved)
    {
        t_deadline = saved.Deadline;
        t_countdown = saved.Countdown;
        t_stopped = saved.Stopped;
        t_stackBase = saved.StackBase;
        t_token = saved.Token;
    }

    private static void ReadClock()
    {
        if (t_stopped != StopReason.None)
        {
            // Stopped stays stopped: every later check throws again (the countdown stays spent).
            Stop(t_stopped);
        }

        t_countdown = TicksPerClockRead;

        // Outside a call the deadline is 0: a script never runs without a budget.
        if (Stopwatch.GetTimestamp() > t_deadline || t_token.IsCancellationRequested)
        {
            Stop(StopReason.Time);
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Stop(StopReason reason)
    {
        t_stopped = reason;
        t_countdown = 0;
        throw reason == StopReason.Stack ? new ScriptStackException() : new ScriptTimeoutException();
    }

    internal enum StopReason : byte
    {
        None,
        Time,
        Stack,
    }

    internal readonly record struct Scope(long Deadline, int Countdown, StopReason Stopped, nuint StackBase, CancellationToken Token);
}

/// <summary>Thrown into a script whose call ran out of its time budget.</summary>
internal sealed class ScriptTimeoutException() : Exception("the script ran out of its time budget");

/// <summary>Thrown into a script that used more than <see cref="ScriptBudget.MaxStackBytes"/> of stack.</summary>
internal sealed class ScriptStackException() : Exception("the script recursed too deep");
