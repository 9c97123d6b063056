namespace Mixer.Runtime.Dispatch;

/// <summary>
/// Cancellation tokens that fire a deadline after they are handed out, without a timer per request:
/// requests that start within the same short slot share one token, cancelled at the end of the slot
/// plus the deadline. A per-request <c>CancelAfter</c> costs a finalizable timer and a lock on the
/// timer queue, which at tens of thousands of checks per second is most of a core.
/// </summary>
/// <remarks>A token fires between <c>deadline</c> and <c>deadline + slot</c> after it was taken.</remarks>
internal sealed class DeadlineTokens(TimeSpan deadline, TimeSpan? slot = null)
{
    private readonly long _slotMs = (long)(slot ?? TimeSpan.FromMilliseconds(50)).TotalMilliseconds;
    private Slot? _current;

    /// <summary>The deadline this source enforces.</summary>
    public TimeSpan Deadline { get; } = deadline;

    /// <summary>A token that is cancelled no earlier than <see cref="Deadline"/> from now.</summary>
    public CancellationToken Next()
    {
        var now = Environment.TickCount64;
        var current = Volatile.Read(ref _current);
        if (current is not null && now < current.Until)
        {
            return current.Token;
        }

        // One new slot per _slotMs; a lost race only costs one extra source.
        var cts = new CancellationTokenSource(Deadline + TimeSpan.FromMilliseconds(_slotMs));
        var next = new Slot(now + _slotMs, cts);
        Interlocked.CompareExchange(ref _current, next, current);
        return Volatile.Read(ref _current)!.Token;
    }

    private sealed class Slot(long until, CancellationTokenSource source)
    {
        public long Until { get; } = until;

        public CancellationToken Token { get; } = source.Token;
    }
}
