namespace Mixer.Adapters.Quota;

/// <summary>
/// At most <c>limit</c> units per rolling window of <c>slots.Length</c> ticks. Each allocation is
/// booked in the slot of the current tick; as ticks pass, the slots that fall out of the window
/// give their units back. Time comes from the caller, in ticks. Not thread-safe.
/// </summary>
internal sealed class RollingWindow(long limit, int ticksInWindow)
{
    private readonly long[] _slots = new long[Math.Max(1, ticksInWindow)];
    private int _current;
    private long _currentTick;
    private bool _started;

    public long Available { get; private set; } = limit;

    public bool TryAllocate(long amount, long tick)
    {
        Advance(tick);
        if (amount > Available)
        {
            return false;
        }

        _slots[_current] += amount;
        Available -= amount;
        return true;
    }

    /// <summary>Gives back up to <paramref name="amount"/>, newest slots first; returns what was given back.</summary>
    public long Release(long amount, long tick)
    {
        Advance(tick);
        long released = 0;
        var index = _current;
        for (var n = 0; n < _slots.Length && amount > 0; n++)
        {
            var take = Math.Min(_slots[index], amount);
            _slots[index] -= take;
            amount -= take;
            released += take;
            index = index == 0 ? _slots.Length - 1 : index - 1;
        }

        Available += released;
        return released;
    }

    private void Advance(long tick)
    {
        if (!_started)
        {
            _started = true;
            _currentTick = tick;
            return;
        }

        // A clock that steps back leaves the window where it is.
        var behind = tick - _currentTick;
        if (behind <= 0)
        {
            return;
        }

        var steps = (int)Math.Min(behind, _slots.Length);
        for (var i = 1; i <= steps; i++)
        {
            var index = (_current + i) % _slots.Length;
            Available += _slots[index];
            _slots[index] = 0;
        }

        _current = (_current + steps) % _slots.Length;
        _currentTick = tick;
    }
}
