import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** Adds one Weft alarm to `scope`: breached at `threshold` or more in one period, missing data is fine. */
export type AddAlarm = (alarmId: string, metric: IMetric, threshold: number, description: string) => Alarm;

/**
 * The alarm shape every Weft construct uses: one evaluation period, missing data not breaching,
 * alarm and OK notifications to the alarm topic, each alarm collected in `into` (the dashboard's
 * alarm status widget and the tests read that list).
 */
export const alarmFactory = (scope: Construct, topic: ITopic, into: Alarm[]): AddAlarm => {
  const action = new SnsAction(topic);
  return (alarmId, metric, threshold, description) => {
    const alarm = new Alarm(scope, alarmId, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
    into.push(alarm);
    return alarm;
  };
};
