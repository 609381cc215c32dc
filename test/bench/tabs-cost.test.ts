import { tabsCost } from '../../bench/scenarios/ops';

test('connection-minutes of a user with 3 tabs: three connections unshared, one shared', () => {
  expect(tabsCost(3, 176, 0.69)).toEqual({
    tabs: 3,
    hoursPerMonth: 176,
    notShared: { connections: 3, connectionMinutesPerUserMonth: 31_680, usdPer1000UsersMonth: 21.86 },
    shared: { connections: 1, connectionMinutesPerUserMonth: 10_560, usdPer1000UsersMonth: 7.29 },
  });
});
