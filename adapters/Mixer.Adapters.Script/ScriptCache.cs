namespace Mixer.Adapters.Script;

/// <summary>
/// Compiled scripts by source hash, shared by Validate and BuildAsync and across config
/// generations: a script whose text did not change is never compiled again. Memory stays bounded:
/// a script held by a live handler stays (its handler holds a lease); scripts no handler holds
/// (validated but not built, replaced, failed) are kept for reuse up to a fixed number, least
/// recently used first out, and each one dropped is unloaded with its collectible load context.
/// </summary>
internal sealed class ScriptCache(int idleCapacity = ScriptCache.DefaultIdleCapacity)
{
    /// <summary>How many scripts no handler uses are kept for the next generation.</summary>
    public const int DefaultIdleCapacity = 64;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // Idle entries (no lease), least recently used first.
    private readonly LinkedList<Entry> _idle = new();
    private long _compilations;
    private long _unloads;

    /// <summary>How many scripts were compiled (cache misses).</summary>
    public long Compilations => Interlocked.Read(ref _compilations);

    /// <summary>How many compiled scripts were dropped and their load contexts unloaded.</summary>
    public long Unloads => Interlocked.Read(ref _unloads);

    /// <summary>Scripts held now, leased or idle.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>The compiled script for <paramref name="source"/>, compiling it if it is not cached; not leased.</summary>
    public CompiledScript Get(ScriptTemplate template, string source)
    {
        var entry = Find(template, source, lease: false);
        return entry.Value;
    }

    /// <summary>The compiled script for <paramref name="source"/>, held until the lease is disposed.</summary>
    public Lease Acquire(ScriptTemplate template, string source)
    {
        var entry = Find(template, source, lease: true);
        return new Lease(this, entry);
    }

    private Entry Find(ScriptTemplate template, string source, bool lease)
    {
        var hash = ScriptSource.Hash(template, source);
        Entry entry;
        lock (_lock)
        {
            if (_entries.TryGetValue(hash, out var found))
            {
                entry = found;
                if (entry.Node.List is not null)
                {
                    _idle.Remove(entry.Node);
                }
            }
            else
            {
                entry = new Entry(hash, new Lazy<CompiledScript>(() =>
                {
                    Interlocked.Increment(ref _compilations);
                    return ScriptCompiler.Compile(template, source, hash);
                }));
                _entries[hash] = entry;
            }

            if (lease)
            {
                entry.Leases++;
            }
            else if (entry.Leases == 0)
            {
                _idle.AddLast(entry.Node);
            }

            TrimIdle();
        }

        // Compiled outside the lock; Lazy makes concurrent askers wait for the one compilation.
        var compiled = entry.Value;
        lock (_lock)
        {
            // Trimmed while it compiled, and nobody holds it: unload it now, or it never would be.
            if (entry.Leases == 0 && (!_entries.TryGetValue(hash, out var current) || !ReferenceEquals(current, entry)) && compiled.Succeeded)
            {
                compiled.Unload();
                Interlocked.Increment(ref _unloads);
            }
        }

        return entry;
    }

    private void Release(Entry entry)
    {
        lock (_lock)
        {
            if (--entry.Leases == 0 && _entries.ContainsKey(entry.Hash))
            {
                _idle.AddLast(entry.Node);
                TrimIdle();
            }
        }
    }

    private void TrimIdle()
    {
        while (_idle.Count > idleCapacity)
        {
            var oldest = _idle.First!.Value;
            _idle.RemoveFirst();
            _entries.Remove(oldest.Hash);
            if (oldest.Lazy.IsValueCreated && oldest.Lazy.Value.Succeeded)
            {
                oldest.Lazy.Value.Unload();
                Interlocked.Increment(ref _unloads);
            }
        }
    }

    private sealed class Entry
    {
        public Entry(string hash, Lazy<CompiledScript> lazy)
        {
            Hash = hash;
            Lazy = lazy;
            Node = new LinkedListNode<Entry>(this);
        }

        public string Hash { get; }

        public Lazy<CompiledScript> Lazy { get; }

        public LinkedListNode<Entry> Node { get; }

        public int Leases { get; set; }

        public CompiledScript Value => Lazy.Value;
    }

    /// <summary>A handler's hold on a compiled script; dispose it when the handler closes.</summary>
    public sealed class Lease(ScriptCache cache, object entry) : IDisposable
    {
        private int _disposed;

        public CompiledScript Script => ((Entry)entry).Value;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                cache.Release((Entry)entry);
            }
        }
    }
}
