using Mixer.Lang;
using Mixer.Sdk;
using YamlDotNet.RepresentationModel;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Cli;

/// <summary>Reads the <c>attributemanifest</c> documents of a YAML file into one manifest.</summary>
internal static class EvalManifestReader
{
    /// <summary>Every problem is collected; the manifest is returned only when there are none.</summary>
    public static AttributeManifest? Read(string path, List<string> errors)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (IOException e)
        {
            errors.Add($"{path}: {e.Message}");
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            errors.Add($"{path}: {e.Message}");
            return null;
        }

        return Parse(text, path, errors);
    }

    public static AttributeManifest? Parse(string text, string source, List<string> errors)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            errors.Add($"{source}:{e.Start.Line}: {e.Message}");
            return null;
        }

        var attributes = new Dictionary<string, ValueType>(StringComparer.Ordinal);
        var manifests = 0;
        foreach (var doc in stream.Documents)
        {
            if (doc.RootNode is not YamlMappingNode root || Scalar(root, "kind") != "attributemanifest")
            {
                continue;
            }

            manifests++;
            if (Child(root, "spec") is not YamlMappingNode spec || Child(spec, "attributes") is not YamlMappingNode attrs)
            {
                continue;
            }

            foreach (var (key, value) in attrs.Children)
            {
                var name = ((YamlScalarNode)key).Value ?? string.Empty;
                var typeName = value is YamlMappingNode info ? Scalar(info, "valueType") : null;
                if (!ValueTypes.TryParseIstioName(typeName, out var type))
                {
                    errors.Add($"{source}:{key.Start.Line}: attribute '{name}': valueType must be one of STRING, INT64, DOUBLE, BOOL, TIMESTAMP, IP_ADDRESS, EMAIL_ADDRESS, URI, DNS_NAME, DURATION, STRING_MAP (got '{typeName}')");
                    continue;
                }

                attributes[name] = type;
            }
        }

        if (manifests == 0)
        {
            errors.Add($"{source}: no 'kind: attributemanifest' document found");
        }

        return errors.Count == 0 ? new AttributeManifest(attributes) : null;
    }

    private static YamlNode? Child(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    private static string? Scalar(YamlMappingNode node, string key) => (Child(node, key) as YamlScalarNode)?.Value;
}
