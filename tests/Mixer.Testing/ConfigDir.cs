namespace Mixer.Testing;

/// <summary>A temporary config directory for mixs's fs:// store; deleted on dispose.</summary>
public sealed class ConfigDir : IDisposable
{
    /// <summary>Creates an empty directory under the system temp folder.</summary>
    public ConfigDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mixer-config-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>(Re)writes <paramref name="file"/> atomically (written aside, then renamed) so a watcher never sees half of it.</summary>
    public ConfigDir Write(string file, string yaml)
    {
        var target = System.IO.Path.Combine(Path, file);
        var temp = System.IO.Path.Combine(Path, "." + file + ".tmp");
        File.WriteAllText(temp, yaml);
        File.Move(temp, target, overwrite: true);
        return this;
    }

    /// <summary>Removes <paramref name="file"/>.</summary>
    public void Delete(string file) => File.Delete(System.IO.Path.Combine(Path, file));

    /// <summary>Copies the repository's default attribute vocabulary (mixer/config/attributes.yaml) in.</summary>
    public ConfigDir WithDefaultAttributes()
    {
        File.Copy(RepositoryFile("mixer/config/attributes.yaml"), System.IO.Path.Combine(Path, "attributes.yaml"), overwrite: true);
        return this;
    }

    /// <summary>A file of the repository, found from this source file's location at build time or the test's directory.</summary>
    public static string RepositoryFile(string relative)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Mixer.sln")))
        {
            dir = dir.Parent;
        }

        return System.IO.Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory), relative);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp folder left behind harms nothing.
        }
    }
}
