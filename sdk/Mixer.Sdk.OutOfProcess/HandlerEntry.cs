using Mixer.Sdk.Adapters;

namespace Mixer.Sdk.OutOfProcess;

/// <summary>
/// One built (or building) handler, shared by every call and session that carries the same
/// adapter_config bytes. Reference counted: the cache holds one lease, each open session one,
/// each call in flight one; the handler is disposed when the last lease goes, so retiring an
/// entry (CloseSession, idle eviction, shutdown) never disposes a handler under a running call.
/// </summary>
internal sealed class HandlerEntry
{
    private readonly Func<HandlerEntry, Task> _onLastRelease;
    private int _leases = 1;
    private int _retired;
    private long _lastUsed;

    public HandlerEntry(ConfigKey key, string name, Func<Task<IHandler>> build, Func<HandlerEntry, Task> onLastRelease, long now)
    {
        Key = key;
        Name = name;
        _onLastRelease = onLastRelease;
        _lastUsed = now;
        Handler = new Lazy<Task<IHandler>>(build, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public ConfigKey Key { get; }

    /// <summary>The name the handler is built and logged under.</summary>
    public string Name { get; }

    /// <summary>The build, started by the first call that needs it.</summary>
    public Lazy<Task<IHandler>> Handler { get; }

    /// <summary>Open sessions on this entry; changed under the cache's session lock.</summary>
    public int Sessions { get; set; }

    public long LastUsed => Volatile.Read(ref _lastUsed);

    /// <summary>Takes a lease unless the entry is already gone (then the caller looks it up again).</summary>
    public bool TryAcquire(long now)
    {
        while (true)
        {
            var n = Volatile.Read(ref _leases);
            if (n == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _leases, n + 1, n) == n)
            {
                Volatile.Write(ref _lastUsed, now);
                return true;
            }
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
        {
            _ = _onLastRelease(this);
        }
    }

    /// <summary>Gives up the cache's own lease, once.</summary>
    public void Retire()
    {
        if (Interlocked.Exchange(ref _retired, 1) == 0)
        {
            Release();
        }
    }
}

/// <summary>The bytes (and type) of an adapter_config, compared by content.</summary>
internal readonly struct ConfigKey : IEquatable<ConfigKey>
{
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly int _hash;

    public ConfigKey(string typeUrl, ReadOnlyMemory<byte> bytes)
    {
        TypeUrl = typeUrl;
        _bytes = bytes;
        var h = default(HashCode);
        h.Add(typeUrl, StringComparer.Ordinal);
        h.AddBytes(bytes.Span);
        _hash = h.ToHashCode();
    }

    public string TypeUrl { get; }

    public ReadOnlySpan<byte> Bytes => _bytes.Span;

    public bool Equals(ConfigKey other) =>
        _hash == other._hash && string.Equals(TypeUrl, other.TypeUrl, StringComparison.Ordinal) && _bytes.Span.SequenceEqual(other._bytes.Span);

    public override bool Equals(object? obj) => obj is ConfigKey k && Equals(k);

    public override int GetHashCode() => _hash;
}
