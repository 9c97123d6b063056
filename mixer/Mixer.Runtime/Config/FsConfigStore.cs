using Microsoft.Extensions.Logging;

namespace Mixer.Runtime.Config;

/// <summary>What a store holds at one moment: the resources it could read and the errors of the rest.</summary>
public sealed record StoreSnapshot(IReadOnlyDictionary<ResourceKey, ConfigResource> Resources, IReadOnlyList<ConfigError> Errors);

/// <summary>
/// <c>fs://DIR</c>: every <c>*.yaml</c>/<c>*.yml</c> under DIR (recursively), each file split into
/// documents of Istio's shape (apiVersion, kind, metadata.name, metadata.namespace, spec). The
/// directory is watched; a change is announced once things have been quiet for a short while.
/// </summary>
public sealed partial class FsConfigStore : IDisposable
{
    private static readonly TimeSpan s_quiet = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(500);

    private readonly string _root;
    private readonly ILogger _logger;
    private FileSystemWatcher? _watcher;
    private Timer? _debounce;
    private Timer? _poller;
    private string _signature = string.Empty;
    private Action<StoreSnapshot>? _onChange;
    private readonly Lock _gate = new();

    /// <summary>A store over <paramref name="directory"/>.</summary>
    public FsConfigStore(string directory, ILogger logger)
    {
        _root = Path.GetFullPath(directory);
        _logger = logger;
    }

    /// <summary>Parses a store URL (<c>fs:///abs/dir</c>); null with an error for anything else.</summary>
    public static string? DirectoryOf(string url, out string? error)
    {
        error = null;
        if (!url.StartsWith("fs://", StringComparison.Ordinal))
        {
            error = $"config store URL '{url}' is not supported; use fs:///absolute/dir";
            return null;
        }

        var dir = url["fs://".Length..];
        if (!Directory.Exists(dir))
        {
            error = $"config store directory '{dir}' does not exist";
            return null;
        }

        return dir;
    }

    /// <summary>Reads everything now.</summary>
    public StoreSnapshot Load()
    {
        var resources = new Dictionary<ResourceKey, ConfigResource>();
        var errors = new List<ConfigError>();
        foreach (var file in Files())
        {
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (IOException e)
            {
                errors.Add(new ConfigError(new SourcePosition(Relative(file), 0), null, string.Empty, $"cannot read: {e.Message}"));
                continue;
            }
            catch (UnauthorizedAccessException e)
            {
                errors.Add(new ConfigError(new SourcePosition(Relative(file), 0), null, string.Empty, $"cannot read: {e.Message}"));
                continue;
            }

            foreach (var doc in YamlDocuments.Parse(Relative(file), text))
            {
                if (doc.Error is not null)
                {
                    errors.Add(doc.Error);
                    continue;
                }

                if (doc.Root is null)
                {
                    continue;
                }

                var resource = Envelope.Read(doc, errors);
                if (resource is null)
                {
                    continue;
                }

                if (resources.TryGetValue(resource.Key, out var earlier))
                {
                    errors.Add(new ConfigError(resource.Position, resource.Key, "metadata.name",
                        $"the same kind, namespace and name is defined at {earlier.Position}; this later definition wins"));
                }

                resources[resource.Key] = resource;
            }
        }

        return new StoreSnapshot(resources, errors);
    }

    /// <summary>
    /// Calls <paramref name="onChange"/> with a new snapshot whenever files under the directory
    /// change (noticed through file-system events, and a poll as a safety net).
    /// </summary>
    public void Watch(Action<StoreSnapshot> onChange)
    {
        lock (_gate)
        {
            _onChange = onChange;
            _signature = Signature();
            _debounce = new Timer(_ => Fire(), null, Timeout.Infinite, Timeout.Infinite);
            _watcher = new FileSystemWatcher(_root)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
            };
            _watcher.Changed += (_, _) => Poke();
            _watcher.Created += (_, _) => Poke();
            _watcher.Deleted += (_, _) => Poke();
            _watcher.Renamed += (_, _) => Poke();
            _watcher.Error += (_, e) => LogWatchError(_logger, e.GetException().Message);
            _watcher.EnableRaisingEvents = true;
            _poller = new Timer(_ => Poll(), null, s_poll, s_poll);
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            _onChange = null;
            _watcher?.Dispose();
            _debounce?.Dispose();
            _poller?.Dispose();
        }
    }

    private void Poke()
    {
        lock (_gate)
        {
            _debounce?.Change(s_quiet, Timeout.InfiniteTimeSpan);
        }
    }

    private void Poll()
    {
        if (Signature() != Volatile.Read(ref _signature))
        {
            Poke();
        }
    }

    private void Fire()
    {
        Action<StoreSnapshot>? onChange;
        lock (_gate)
        {
            onChange = _onChange;
        }

        if (onChange is null)
        {
            return;
        }

        var signature = Signature();
        if (signature == Volatile.Read(ref _signature))
        {
            return;
        }

        Volatile.Write(ref _signature, signature);
        try
        {
            onChange(Load());
        }
        catch (Exception e)
        {
            // A failing listener must not stop the watch: the next change tries again.
            LogListenerFailed(_logger, e);
        }
    }

    /// <summary>Names, sizes and write times of the config files: cheap to compute, changes with any edit.</summary>
    private string Signature()
    {
        try
        {
            return string.Join('\n', Files().Select(f =>
            {
                var info = new FileInfo(f);
                return $"{f}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
            }));
        }
        catch (IOException)
        {
            return Guid.NewGuid().ToString();
        }
    }

    private IEnumerable<string> Files()
    {
        if (!Directory.Exists(_root))
        {
            return [];
        }

        return Directory.EnumerateFiles(_root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
    }

    private string Relative(string file) => Path.GetRelativePath(_root, file);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Config directory watch error: {Reason}")]
    private static partial void LogWatchError(ILogger logger, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Applying a config change failed")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception);
}

/// <summary>Reads the Kubernetes-style envelope of one document.</summary>
internal static class Envelope
{
    public static ConfigResource? Read(YamlDocuments.Document doc, List<ConfigError> errors)
    {
        if (doc.Root is not ConfigMap root)
        {
            errors.Add(new ConfigError(doc.Position, null, string.Empty, $"a config document must be a map with apiVersion, kind, metadata and spec, not {doc.Root!.Shape}"));
            return null;
        }

        string? Text(ConfigMap map, string key) => map.TryGet(key, out var n) && n is ConfigScalar s && !s.IsNull ? s.Value : null;

        var kind = Text(root, "kind");
        var apiVersion = Text(root, "apiVersion") ?? string.Empty;
        if (kind is null)
        {
            errors.Add(new ConfigError(doc.Position, null, "kind", "missing: every document needs a kind (rule, handler, instance, attributemanifest, a template or an adapter kind)"));
            return null;
        }

        if (!Kinds.IsMixerKind(kind))
        {
            // Other API groups (networking.istio.io, authentication.istio.io) belong to Pilot and
            // friends: leave them alone. An unknown kind in Mixer's own group is a mistake.
            if (apiVersion.StartsWith("config.istio.io/", StringComparison.Ordinal) && !Kinds.ClientSide.Contains(kind))
            {
                errors.Add(new ConfigError(doc.Position, null, "kind", $"unknown kind '{kind}'{Suggest(kind)}"));
            }

            return null;
        }

        if (!root.TryGet("metadata", out var metaNode) || metaNode is not ConfigMap metadata)
        {
            errors.Add(new ConfigError(doc.Position, null, "metadata", $"missing: a {kind} needs metadata.name and metadata.namespace"));
            return null;
        }

        var name = Text(metadata, "name");
        var ns = Text(metadata, "namespace");
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(ns))
        {
            errors.Add(new ConfigError(metadata.Position, null, string.IsNullOrEmpty(name) ? "metadata.name" : "metadata.namespace",
                $"missing: a {kind} needs metadata.name and metadata.namespace"));
            return null;
        }

        var key = new ResourceKey(kind, ns, name);
        var expected = Kinds.Rbac.Contains(kind) ? Kinds.RbacApiVersion : Kinds.MixerApiVersion;
        if (apiVersion.Length > 0 && apiVersion != expected)
        {
            errors.Add(new ConfigError(doc.Position, key, "apiVersion", $"'{apiVersion}' is not {expected}"));
            return null;
        }

        ConfigMap spec;
        if (!root.TryGet("spec", out var specNode) || (specNode is ConfigScalar s2 && s2.IsNull))
        {
            spec = ConfigMap.Empty(doc.Position);
        }
        else if (specNode is ConfigMap m)
        {
            spec = m;
        }
        else
        {
            errors.Add(new ConfigError(specNode.Position, key, "spec", $"must be a map, not {specNode.Shape}"));
            return null;
        }

        return new ConfigResource(key, spec, doc.Position, doc.Digest);
    }

    private static string Suggest(string kind)
    {
        var all = Kinds.Generic.Concat(Kinds.Adapters).Concat(Kinds.Templates);
        var best = all.Select(k => (k, d: Distance(k, kind.ToLowerInvariant()))).OrderBy(x => x.d).First();
        return best.d <= 2 ? $" (did you mean '{best.k}'?)" : string.Empty;
    }

    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            }
        }

        return d[a.Length, b.Length];
    }
}
