using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Mixer.Hosting;
using Mixer.Runtime;

namespace Mixer.Cli;

/// <summary>
/// <c>mixc validate DIR</c>: the validation mixs applies to its fs:// store, offline: every error
/// with file:line, resource, field and reason; exit code 1 when there is any.
/// </summary>
internal static class ValidateCommand
{
    /// <summary>Exit code: the config is valid.</summary>
    public const int Valid = 0;

    /// <summary>Exit code: the config has errors (listed).</summary>
    public const int Invalid = 1;

    /// <summary>Exit code: the directory could not be read.</summary>
    public const int BadUsage = 2;

    public static Command Create()
    {
        var directory = new Argument<DirectoryInfo>("DIR") { Description = "a config directory as mixs's --configStoreURL fs://DIR reads it" };
        var ns = new Option<string>("--configDefaultNamespace")
        {
            Description = "the mesh-wide config namespace (as mixs's flag)",
            DefaultValueFactory = _ => "istio-system",
        };
        var command = new Command(
            "validate",
            "Validate Mixer config offline, exactly as mixs loads it. Example: mixc validate mixer/config")
        {
            directory,
            ns,
        };
        command.SetAction((parse, token) => RunAsync(parse.GetValue(directory)!.FullName, parse.GetValue(ns)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, token));
        return command;
    }

    /// <summary>The command's behaviour, over explicit streams (for tests).</summary>
    public static async Task<int> RunAsync(string directory, string defaultNamespace, TextWriter output, TextWriter errorOutput, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory))
        {
            await errorOutput.WriteLineAsync($"error: directory '{directory}' does not exist").ConfigureAwait(false);
            return BadUsage;
        }

        var errors = await MixerRuntime.ValidateAsync(directory, BuiltInAdapters.Create(), defaultNamespace, NullLoggerFactory.Instance, cancellationToken).ConfigureAwait(false);
        foreach (var e in errors)
        {
            await output.WriteLineAsync(e.ToString()).ConfigureAwait(false);
        }

        await output.WriteLineAsync(errors.Count == 0 ? $"{directory}: valid" : $"{directory}: {errors.Count} error(s)").ConfigureAwait(false);
        return errors.Count == 0 ? Valid : Invalid;
    }
}
