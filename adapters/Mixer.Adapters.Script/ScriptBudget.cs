using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Mixer.Adapters.Script;

/// <summary>
/// The per-call budget of a script: time, stack and memory. .NET cannot abort a thread, so the compiler
/// inserts a call to <see cref="Tick"/> at the top of every loop body and before every <c>goto</c>,
/// and a call to <see cref="Enter"/> at the entry of every method, local function, lambda and
/// anonymous method. Once the call's deadline has passed (or the caller's cancellation token fires,
/// or the script has used too much stack or allocated too much), the call is stopped: each of them throws, every catch
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

    /// <summary>
    /// How much a call may allocate, counted from its first clock reading (after 64 budget checks,
    /// so short scripts never pay for the count): a loop that fills memory stops long before its
    /// time budget would stop it.
    /// </summary>
    public const long MaxAllocatedBytes = 64L * 1024 * 1024;

    // One thread-local object, so a check costs one thread-local read.
    [ThreadStatic]
    private static State? t_state;

    /// <summary>False once the call is stopped: catch filters and finally blocks of the script test it.</summary>
    public static bool Live => t_state is { Stopped: StopReason.None };

    /// <summary>Counts a loop iteration or a jump; throws once the call is stopped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tick()
    {
        var s = t_state ?? State.Outside;
        if (--s.Countdown <= 0)
        {
            ReadClock(s);
        }
    }

    /// <summary>Counts a method entry; throws once the call is stopped or the script has used too much stack (a runaway recursion).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Enter()
    {
        var s = t_state ?? State.Outside;
        if (--s.Countdown <= 0)
        {
            ReadClock(s);
        }

        // Stacks grow down on every platform .NET runs on.
        byte here;
        if ((long)(s.StackBase - (nuint)(&here)) > MaxStackBytes)
        {
            Stop(s, StopReason.Stack);
        }
    }

    /// <summary>Starts a call's budget on this thread (calls do not nest: scripts cannot call scripts).</summary>
    internal static unsafe void Begin(TimeSpan timeout, CancellationToken token)
    {
        byte here;
        var s = t_state ??= new State();
        s.StackBase = (nuint)(&here);

        // Milliseconds of the coarse monotonic clock: a few nanoseconds to read, where a precise
        // timestamp costs tens, on every call; a budget is tens of milliseconds.
        s.Deadline = Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds);
        s.Countdown = TicksPerClockRead;
        s.Stopped = StopReason.None;
        s.Token = token;
        s.AllocatedAtStart = -1;
    }

    /// <summary>Ends the call's budget: until the next <see cref="Begin"/>, every check throws.</summary>
    internal static void End()
    {
        var s = t_state!;
        s.Deadline = 0;
        s.Countdown = 0;
        s.Token = default;
    }

    private static void ReadClock(State s)
    {
        if (s.Stopped != StopReason.None)
        {
            // Stopped stays stopped: every later check throws again (the countdown stays spent).
            Stop(s, s.Stopped);
        }

        s.Countdown = TicksPerClockRead;

        // Outside a call the deadline is 0: a script never runs without a budget.
        if (Environment.TickCount64 > s.Deadline || s.Token.IsCancellationRequested)
        {
            Stop(s, StopReason.Time);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread();
        if (s.AllocatedAtStart < 0)
        {
            s.AllocatedAtStart = allocated;
        }
        else if (allocated - s.AllocatedAtStart > MaxAllocatedBytes)
        {
            Stop(s, StopReason.Memory);
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Stop(State s, StopReason reason)
    {
        s.Stopped = reason;
        s.Countdown = 0;
        throw reason switch
        {
            StopReason.Stack => new ScriptStackException(),
            StopReason.Memory => new ScriptMemoryException(),
            _ => new ScriptTimeoutException(),
        };
    }

    internal enum StopReason : byte
    {
        None,
        Time,
        Stack,
        Memory,
    }

    private sealed class State
    {
        // What a thread that never began a call sees: no time left.
        public static readonly State Outside = new();

        public long Deadline;
        public int Countdown;
        public StopReason Stopped;
        public nuint StackBase;
        public CancellationToken Token;
        public long AllocatedAtStart;
    }
}

/// <summary>Thrown into a script whose call ran out of its time budget.</summary>
internal sealed class ScriptTimeoutException() : Exception("the script ran out of its time budget");

/// <summary>Thrown into a script that allocated more than <see cref="ScriptBudget.MaxAllocatedBytes"/>.</summary>
internal sealed class ScriptMemoryException() : Exception("the script allocated too much memory");

/// <summary>Thrown into a script that used more than <see cref="ScriptBudget.MaxStackBytes"/> of stack.</summary>
internal sealed class ScriptStackException() : Exception("the script recursed too deep");
