namespace Mixer.Testing;

/// <summary>Waiting for what a running server does on its own time (config reloads, background flushes).</summary>
public static class Eventually
{
    /// <summary>As <see cref="UntilAsync(Func{Task{bool}}, string, TimeSpan?)"/>, for a condition that needs no awaiting.</summary>
    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return UntilAsync(() => Task.FromResult(condition()), what, timeout);
    }

    /// <summary>Polls <paramref name="condition"/> every 100 ms until it holds; fails naming <paramref name="what"/> after <paramref name="timeout"/> (10 s).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        var deadline = DateTime.UtcNow + limit;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"not within {limit.TotalSeconds:0} s: {what}");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }
}
