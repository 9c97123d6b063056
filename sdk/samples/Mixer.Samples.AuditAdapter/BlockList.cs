using System.Collections.Frozen;

namespace Mixer.Samples.AuditAdapter;

/// <summary>An immutable set of blocked entries and the file state it was read from.</summary>
internal sealed class BlockList
{
    private readonly FrozenSet<string> _entries;

    private BlockList(FrozenSet<string> entries, string path, DateTime writeTime, long length)
    {
        _entries = entries;
        Path = path;
        WriteTime = writeTime;
        Length = length;
    }

    public string Path { get; }

    public DateTime WriteTime { get; }

    public long Length { get; }

    public int Count => _entries.Count;

    public bool Contains(string entry) => _entries.Contains(entry);

    /// <summary>Reads <paramref name="path"/> (if any) and adds <paramref name="inline"/>; throws when the file cannot be read.</summary>
    public static async Task<BlockList> LoadAsync(string path, IEnumerable<string> inline, CancellationToken cancellationToken)
    {
        var entries = new HashSet<string>(inline.Select(e => e.Trim()), StringComparer.Ordinal);
        if (string.IsNullOrEmpty(path))
        {
            return new BlockList(entries.ToFrozenSet(StringComparer.Ordinal), path, default, 0);
        }

        var info = new FileInfo(path);
        var text = await File.ReadAllTextAsync(path, cancellationToken);
        foreach (var line in text.Split('\n'))
        {
            var entry = line.Trim();
            if (entry.Length > 0 && !entry.StartsWith('#'))
            {
                entries.Add(entry);
            }
        }

        return new BlockList(entries.ToFrozenSet(StringComparer.Ordinal), path, info.LastWriteTimeUtc, info.Length);
    }

    /// <summary>Whether the file changed since this list was read.</summary>
    public bool IsStale()
    {
        if (string.IsNullOrEmpty(Path))
        {
            return false;
        }

        var info = new FileInfo(Path);
        return !info.Exists || info.LastWriteTimeUtc != WriteTime || info.Length != Length;
    }
}
